"""HTTP service for the city governance platform: a thin FastAPI layer over ``siting``."""
