"""Numbered SQL migrations of the PostgreSQL store: ``NNNN_name.sql``, applied in order by
:func:`msp._store.postgres.migrate` (``msp store migrate``). Never edit a released file: add one."""
