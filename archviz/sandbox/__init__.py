"""The embedded PrivateLink sandbox: moto in server mode plus archviz's layers over it.

- ``server``: the in-process moto server (``Sandbox``), reached over HTTP;
- ``ec2``: the EC2 completion, patches that complete moto's PrivateLink;
- ``faults``: the WSGI layer in front of moto (request accounting, throttling, injected faults);
- ``marketplace``: a fake AWS Marketplace (the agreement API);
- ``wire``: AWS request parsing and error responses for the WSGI layers;
- ``state``: what moto does not model, shared by the layers (``STATE``);
- ``demo``: the demo organization seeded into the sandbox.

Needs the optional extra: ``pip install 'archviz[demo]'``."""
