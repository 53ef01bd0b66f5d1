"""archviz: crawl AWS accounts and draw their PrivateLink architecture."""

__version__ = "0.1.0"
