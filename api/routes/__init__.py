"""HTTP routes: OGC API - Processes core, jobs, and the map page with its study-area layers."""
