"""Fuzz targets for every component that reads untrusted bytes, and their runner."""
