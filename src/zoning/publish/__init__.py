"""What a plan becomes for people: the offline map (``maps``: folium, Leaflet inlined), the output files
(``export``: plan.gpkg / plan.csv / summary.json / map.html) and the 划片 announcement (``announce``: .md, .docx,
.csv), all written atomically through ``io.save``.

May import every package before it; only ``publish.maps`` imports folium.
"""
