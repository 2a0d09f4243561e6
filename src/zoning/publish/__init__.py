"""What a plan becomes for people: the offline map (``maps``: folium, Leaflet inlined) and the output files
(``export``: plan.gpkg / plan.csv / summary.json / map.html, written atomically through ``io.files``).

May import every package before it; only ``publish.maps`` imports folium.
"""
