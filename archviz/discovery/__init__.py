"""Discovery: AWS calls only. One module per resource family; ``get_*`` returns what AWS
returned, ``transform_*`` is a pure function from that to snapshot records, and ``collect``
wires them into a crawl unit (``crawl.py`` runs the collectors in order)."""
