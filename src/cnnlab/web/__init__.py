"""The web lab, ``cnnlab serve``: one local page over cnnlab's Python API.

Every number on the page comes from the functions the CLI calls (:mod:`cnnlab.runs`,
:mod:`cnnlab.analysis`); this package only routes requests to them, streams a run's metrics as
server-sent events, queues ``cnnlab train`` subprocesses and serves the static page files in
``static/`` (plain HTML, CSS and JS: nothing from a CDN). Build the app with
:func:`cnnlab.web.app.create_app`.
"""
