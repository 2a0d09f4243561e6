"""What a plan becomes for people: the offline consultation map (``maps``: folium, Leaflet inlined; search,
popups, the zones of today), the output files (``export``: plan.gpkg / plan.csv / summary.json / map.html), the
划片 announcement (``announce``: .md, .docx, .csv), and the printable report (``figures``: matplotlib maps and
charts; ``report``: report.html and report.pdf through WeasyPrint), all written atomically through ``io.save``.

May import every package before it; only ``publish.maps`` imports folium, only ``publish.figures`` matplotlib,
only ``publish.report`` weasyprint.
"""
