"""jinja2 templates of archviz, shipped inside the package as ``archviz.templates``."""
