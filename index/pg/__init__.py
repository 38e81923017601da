"""The PostgreSQL + pgvector backend: briefings, passages, vectors, versions, reports and answer
records of one or more corpora in one database (``BRIEFBOT_DATABASE_URL``).

Imported only when a database URL is configured; needs the ``postgres`` extra (psycopg 3, its
pool, pgvector). See ``index.backend`` for the interface it shares with the file backend.
"""
