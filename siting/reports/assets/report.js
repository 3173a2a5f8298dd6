/* siting report: draws the layers embedded in #siting-data with the bundled Leaflet (no tiles, no CDN).
 *
 * When done it writes markers on <body> that tests and tools can read with chromium --dump-dom:
 *   data-ready="1", data-features = features drawn, data-layers = {layer id: features},
 *   data-external = resources fetched from outside this folder (must be 0), data-error on failure.
 * All user data reaches the page as text nodes (textContent), never as HTML.
 */
(function () {
  'use strict';
  var body = document.body;

  window.addEventListener('error', function (e) {
    body.dataset.error = String(e.message || e);
  });

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function fmt(value, kind) {
    if (value === null || value === undefined || value === '') return '–';
    if (kind === 'pct') return (100 * value).toFixed(1) + ' %';
    if (kind === 'int') return Math.round(value).toLocaleString('en-US');
    if (kind === 'num') return Number(value).toLocaleString('en-US', { maximumFractionDigits: 1 });
    if (kind === 'bool') return value ? 'yes' : 'no';
    return String(value);
  }

  function popupContent(fields, props) {
    var table = el('table', null, 'popup');
    fields.forEach(function (f) {
      if (!(f[0] in props)) return;
      var tr = el('tr');
      tr.appendChild(el('th', f[1]));
      tr.appendChild(el('td', fmt(props[f[0]], f[2])));
      table.appendChild(tr);
    });
    return table;
  }

  function tooltipContent(fields, props) {
    var parts = [];
    fields.forEach(function (f) {
      if (props[f[0]] !== null && props[f[0]] !== undefined) parts.push(fmt(props[f[0]], f[1]));
    });
    return el('span', parts.join(' · '));
  }

  function geojsonLayer(spec) {
    var base = spec.style || {};
    var styleOf = function (f) {
      return Object.assign({}, base, (f.properties && f.properties._style) || {});
    };
    var layer = L.geoJSON(spec.geojson, {
      style: styleOf,
      interactive: !!(spec.popup || spec.tooltip),
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, styleOf(f));
      },
      onEachFeature: function (f, lyr) {
        var props = f.properties || {};
        if (spec.popup) lyr.bindPopup(function () { return popupContent(spec.popup, props); });
        if (spec.tooltip) lyr.bindTooltip(tooltipContent(spec.tooltip, props), { sticky: true });
      }
    });
    return { layer: layer, count: layer.getLayers().length };
  }

  function heatLayer(spec) {
    var pts = spec.points || [];
    if (typeof L.heatLayer === 'function') {
      var opts = { radius: 16, blur: 14, maxZoom: 15, max: spec.max || 1, minOpacity: 0.25 };
      return { layer: L.heatLayer(pts, opts), count: pts.length };
    }
    var dots = pts.map(function (p) {
      return L.circleMarker([p[0], p[1]], { radius: 3, stroke: false, fillColor: '#b3261e', fillOpacity: 0.35 });
    });
    return { layer: L.layerGroup(dots), count: pts.length };
  }

  function legendControl(map, legend) {
    if (!legend || !legend.length) return;
    var ctl = L.control({ position: 'bottomright' });
    ctl.onAdd = function () {
      var box = el('div', null, 'legend');
      legend.forEach(function (block) {
        box.appendChild(el('div', block.title, 'title'));
        block.items.forEach(function (item) {
          var row = el('div');
          var swatch = el('i');
          swatch.style.background = item[0];
          row.appendChild(swatch);
          row.appendChild(document.createTextNode(item[1]));
          box.appendChild(row);
        });
      });
      return box;
    };
    ctl.addTo(map);
  }

  function isLocal(url) {
    if (/^(file|data|blob|about):/.test(url)) return true;
    return location.protocol !== 'file:' && url.indexOf(location.origin + '/') === 0;
  }

  function checkRequests() {
    var entries = (performance.getEntriesByType && performance.getEntriesByType('resource')) || [];
    var outside = entries.map(function (e) { return e.name; }).filter(function (u) { return !isLocal(u); });
    body.dataset.external = String(outside.length);
    if (outside.length) body.dataset.externalUrls = JSON.stringify(outside.slice(0, 20));
  }

  function drawMap(data) {
    var map = L.map('map', { preferCanvas: true, zoomSnap: 0.25 });
    map.attributionControl.setPrefix('Leaflet');
    map.attributionControl.addAttribution(escapeHtml(data.attribution || ''));
    map.fitBounds(data.bounds, { padding: [10, 10] });
    var overlays = {};
    var counts = {};
    var total = 0;
    data.layers.forEach(function (spec) {
      var made = spec.kind === 'heat' ? heatLayer(spec) : geojsonLayer(spec);
      overlays[escapeHtml(spec.name) + ' (' + made.count.toLocaleString('en-US') + ')'] = made.layer;
      if (spec.visible !== false) {
        made.layer.addTo(map);
        counts[spec.id] = made.count;
        total += made.count;
      }
    });
    L.control.layers(null, overlays, { collapsed: data.layers.length > 12 }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    legendControl(map, data.legend);
    window.sitingMap = map;
    body.dataset.features = String(total);
    body.dataset.layers = JSON.stringify(counts);
  }

  function sortable(table) {
    var heads = table.querySelectorAll('thead th');
    Array.prototype.forEach.call(heads, function (th, col) {
      th.title = 'sort';
      th.addEventListener('click', function () {
        var tbody = table.tBodies[0];
        var rows = Array.prototype.slice.call(tbody.rows);
        var dir = th.dataset.dir === 'asc' ? -1 : 1;
        th.dataset.dir = dir === 1 ? 'asc' : 'desc';
        var key = function (row) {
          var cell = row.cells[col];
          var v = cell ? cell.dataset.v : undefined;
          return v !== undefined ? parseFloat(v) : (cell ? cell.textContent : '');
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          return (x > y ? 1 : x < y ? -1 : 0) * dir;
        });
        rows.forEach(function (r) { tbody.appendChild(r); });
      });
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), sortable);
    var node = document.getElementById('siting-data');
    if (node && document.getElementById('map')) {
      if (typeof L === 'undefined') throw new Error('Leaflet did not load (assets/leaflet/leaflet.js missing?)');
      drawMap(JSON.parse(node.textContent));
    }
    checkRequests();
    body.dataset.ready = '1';
  }

  window.addEventListener('load', checkRequests);
  init();
})();
