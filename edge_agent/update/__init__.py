"""Over-the-air updates of the agent: download, verify, install side by side, restart into the
new release, then confirm it healthy or let the launcher roll it back.

``launch`` is the standalone launcher (and the managed root's layout and state file);
``install`` builds a release's environment (also the first install on a device); ``download``
fetches and verifies a release; ``commands`` runs an ``update`` command; ``trial`` confirms
the new version's health and reports how the last update ended.

Nothing heavy is imported here: ``python -m edge_agent.update.install`` must run from the
release's wheels alone on a device that has no agent yet.
"""
