"""``stgan serve``: a browser demo with one slider per attribute (issue 11, part 6).

- :mod:`stgan.serve.demo`: the work without a web framework: validating and opening
  uploads (memory only), detecting and aligning the face, the encoder run once per photo,
  slider edits pasted back into the photo.
- :mod:`stgan.serve.app`: :func:`~stgan.serve.app.create_app`, the FastAPI app serving the
  one static page (``static/``) and its JSON/PNG API.

FastAPI and uvicorn are imported only when an app is created (the ``serve`` extra:
``pip install 'stgan[serve]'``). See ``docs/serve.md``.
"""
