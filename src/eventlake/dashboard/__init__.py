"""The dashboard: a Streamlit app (``app.py``) over two small libraries.

* :mod:`eventlake.dashboard.queries` — what the charts show, read from the warehouse's marts.
* :mod:`eventlake.dashboard.health` — the pipeline's health: the API's live metrics, recent
  jobs and runs from the state database, the quality gate's summary, the report sites.

Both are plain functions returning pandas frames and dicts, testable without Streamlit.
"""
