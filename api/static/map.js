// siting map page: draws a server-held study area's own layers and a job's result (local Leaflet, no tiles).
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var hash = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var $ = function (id) { return document.getElementById(id); };
  var map = L.map("map", { preferCanvas: true, zoomSnap: 0.25 }).setView([32.16, 118.7], 11);
  var control = L.control.layers(null, null, { collapsed: false }).addTo(map);
  var drawn = [];
  var pollTimer = null;

  if (hash.get("key")) {
    sessionStorage.setItem("siting-key", hash.get("key"));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  $("key").value = sessionStorage.getItem("siting-key") || "";
  $("job").value = params.get("job") || "";

  function status(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  function getJSON(url, withKey) {
    var headers = { Accept: "application/json" };
    var key = $("key").value.trim();
    if (withKey && key) { headers["X-API-Key"] = key; }
    return fetch(url, { headers: headers }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error((body && body.detail) || r.statusText); }
        return body;
      });
    });
  }

  function esc(v) {
    return String(v).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }

  function popup(props) {
    var rows = Object.keys(props || {}).filter(function (k) { return props[k] !== null && props[k] !== ""; })
      .map(function (k) {
        var v = props[k];
        if (typeof v === "number" && !Number.isInteger(v)) { v = v.toFixed(3); }
        return "<tr><td>" + esc(k) + "</td><td>" + esc(v) + "</td></tr>";
      });
    return '<table class="popup">' + rows.join("") + "</table>";
  }

  function shareColour(s) {
    if (s === null || s === undefined) { return "#bbb"; }
    return s >= 0.9 ? "#1a9850" : s >= 0.6 ? "#91cf60" : s >= 0.3 ? "#fee08b" : s > 0 ? "#fc8d59" : "#d73027";
  }

  function add(name, layer, show) {
    drawn.push(layer);
    control.addOverlay(layer, name);
    if (show) { layer.addTo(map); }
    return layer;
  }

  function clear() {
    drawn.forEach(function (layer) { map.removeLayer(layer); control.removeLayer(layer); });
    drawn = [];
  }

  var STYLES = {
    boundary: { color: "#333", weight: 2, fill: false },
    streets: { color: "#666", weight: 1.5, dashArray: "6 4", fill: false },
    grids: { color: "#888", weight: 0.6, fillOpacity: 0 },
    compounds: { color: "#8d6e63", weight: 0.8, fillColor: "#d7ccc8", fillOpacity: 0.35 },
    exclusions: { color: "#607d8b", weight: 0.5, fillColor: "#90a4ae", fillOpacity: 0.45 },
    fire_lanes: { color: "#e53935", weight: 1.2 },
    roads: { color: "#9e9e9e", weight: 1 },
    buildings: { color: "#795548", weight: 0.4, fillOpacity: 0.25 }
  };
  var SHOWN = { boundary: true, streets: true, grids: true, compounds: true, exclusions: true, fire_lanes: true, roads: true };

  function pointLayer(name, fc) {
    var colour = name === "existing" ? "#6a1b9a" : name === "demand" ? "#1565c0" : "#ff8f00";
    return L.geoJSON(fc, {
      pointToLayer: function (f, ll) { return L.circleMarker(ll, { radius: 2, color: colour, weight: 0, fillOpacity: 0.7 }); },
      onEachFeature: function (f, l) { l.bindPopup(popup(f.properties)); }
    });
  }

  function drawArea(areaId, crs, skipGrids) {
    return getJSON("studyareas/" + encodeURIComponent(areaId)).then(function (info) {
      var names = Object.keys(info.layers);
      return Promise.all(names.map(function (name) {
        if (skipGrids && name === "grids") { return null; }
        var url = "studyareas/" + encodeURIComponent(areaId) + "/layers/" + name + "?crs=" + crs;
        return getJSON(url).then(function (fc) {
          var isPoint = fc.features.length && fc.features[0].geometry && fc.features[0].geometry.type === "Point";
          var layer = isPoint ? pointLayer(name, fc) : L.geoJSON(fc, {
            style: STYLES[name] || { color: "#999", weight: 1 },
            onEachFeature: function (f, l) { l.bindPopup(popup(f.properties)); }
          });
          add(areaId + ": " + name, layer, !!SHOWN[name]);
          if (name === "boundary") { map.fitBounds(layer.getBounds(), { padding: [10, 10] }); }
        });
      }));
    });
  }

  function drawResult(doc) {
    if (doc.grids && doc.grids.features && doc.grids.features.length) {
      add("result: grid coverage", L.geoJSON(doc.grids, {
        style: function (f) {
          return { color: "#777", weight: 0.4, fillColor: shareColour(f.properties.covered_share), fillOpacity: 0.55 };
        },
        onEachFeature: function (f, l) { l.bindPopup(popup(f.properties)); }
      }), true);
    }
    if (doc.service_areas && doc.service_areas.features.length) {
      add("result: service areas", L.geoJSON(doc.service_areas, {
        style: { color: "#2e7d32", weight: 1, fillColor: "#66bb6a", fillOpacity: 0.15 }
      }), true);
    }
    if (doc.sites && doc.sites.features.length) {
      var sites = L.geoJSON(doc.sites, {
        pointToLayer: function (f, ll) {
          var m = L.circleMarker(ll, { radius: 6, color: "#1b5e20", weight: 2, fillColor: "#fff", fillOpacity: 1 });
          if (f.properties.rank !== undefined) {
            m.bindTooltip(String(f.properties.rank), { permanent: true, direction: "right", offset: [8, 0], className: "rank" });
          }
          return m;
        },
        onEachFeature: function (f, l) { l.bindPopup(popup(f.properties)); }
      });
      add("result: sites", sites, true);
      map.fitBounds(sites.getBounds(), { padding: [40, 40], maxZoom: 15 });
    }
  }

  function legend() {
    var box = L.control({ position: "bottomright" });
    box.onAdd = function () {
      var div = L.DomUtil.create("div", "legend");
      div.innerHTML = "<b>grid households covered</b><br>" + [[0.9, "90 %+"], [0.6, "60-90 %"], [0.3, "30-60 %"], [0.01, "under 30 %"], [0, "none"]]
        .map(function (p) { return '<i style="background:' + shareColour(p[0]) + '"></i>' + p[1]; }).join("<br>");
      return div;
    };
    box.addTo(map);
  }

  function showJob(jobId) {
    return getJSON("jobs/" + encodeURIComponent(jobId), true).then(function (job) {
      status(job.processID + " · " + job.status + " · " + job.progress + "% · " + job.message, job.status === "failed");
      if (job.status === "accepted" || job.status === "running") {
        pollTimer = setTimeout(function () { showJob(jobId); }, 2000);
        return null;
      }
      if (job.status !== "successful") { return null; }
      return getJSON("jobs/" + encodeURIComponent(jobId) + "/results", true).then(function (doc) {
        var summary = doc.summary || {};
        var areaId = summary.study_area_id;
        var crs = (doc.sites && doc.sites.crs_name) || (doc.grids && doc.grids.crs_name) || "wgs84";
        var share = summary.covered_share;
        if (typeof share === "number") { status(job.processID + " · " + (share * 100).toFixed(1) + " % of households covered"); }
        var areaDone = areaId && areaId !== "inline" ? drawArea(areaId, crs, !!doc.grids) : Promise.resolve();
        return areaDone.then(function () { drawResult(doc); });
      });
    });
  }

  function load() {
    if (pollTimer) { clearTimeout(pollTimer); }
    clear();
    sessionStorage.setItem("siting-key", $("key").value.trim());
    var jobId = $("job").value.trim();
    var work = jobId ? showJob(jobId) : drawArea($("area").value, "wgs84", false).then(function () { status("study area " + $("area").value); });
    work.catch(function (e) { status(e.message, true); });
  }

  getJSON("studyareas").then(function (doc) {
    doc.studyareas.forEach(function (a) {
      var o = document.createElement("option");
      o.value = a.id; o.textContent = a.id;
      $("area").appendChild(o);
    });
    if (params.get("area")) { $("area").value = params.get("area"); }
    legend();
    load();
  }).catch(function (e) { status(e.message, true); });
  $("load").addEventListener("click", load);
}());
