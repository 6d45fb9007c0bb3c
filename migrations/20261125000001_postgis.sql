-- The first migration enables PostGIS: every later one may use geometry types.
CREATE EXTENSION IF NOT EXISTS postgis;
