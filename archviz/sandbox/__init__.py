"""The embedded PrivateLink sandbox: moto in server mode plus archviz's completion layer.

Needs the optional extra: ``pip install 'archviz[demo]'``."""
