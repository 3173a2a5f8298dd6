"""Geodata in and out: CRS choice and conversion, point checks, reading layers, validation, study areas."""
