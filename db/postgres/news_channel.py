"""The NOTIFY channel that tells listening bot processes of committed heat changes (see news_signal.py).

NOTIFY reaches every session of the database, while each Heatwave store is a schema of its own (tests run many
side by side): the payload names the schema the heat changes went to, and a listener ignores the others.
"""

NEWS_CHANNEL = "heatwave_news"
# Run inside the transaction that stores heat changes: the server delivers it when (and only if) that commits.
# current_schema() is where the session's tables are, the same for the ingester and the listener of one store.
NOTIFY_NEWS = f"SELECT pg_notify('{NEWS_CHANNEL}', current_schema())"
