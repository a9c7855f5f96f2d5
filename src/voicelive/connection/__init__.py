"""The connection to Voice Live and its lifetime.

- :mod:`~voicelive.connection.client`: one WebSocket connection (URL, headers, limits,
  redacted logging, error mapping);
- :mod:`~voicelive.connection.session_setup`: ``session.update`` and its answer, the replay;
- :mod:`~voicelive.connection.outbound`: the one ordered way out (audio and client events);
- :mod:`~voicelive.connection.supervisor`: the attempts (connect, set up, replay, serve,
  reconnect with :mod:`~voicelive.connection.backoff`, roll over).
"""
