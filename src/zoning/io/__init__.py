"""Reading and writing: files of every format in (``files``) and out (``save``: atomic, the outputs all or
nothing), coordinates (``crs``: GCJ-02 / BD-09 / CGCS2000, the metric CRS), the checks of every table
(``validate``), the canonical inputs (``inputs``), the shipped demo data (``datasets``) and PostgreSQL /
PostGIS tables in and plans out (``db``: the only module that imports SQLAlchemy, GeoAlchemy2 and psycopg).

May import: ``errors``, ``options``.  The only package that touches the file system (published pages are
saved through ``save``).
"""
