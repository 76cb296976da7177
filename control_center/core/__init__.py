"""The kernel floor: who acts (``Actor``), what each role may do, the subtree scope, target
resolution, the audit log and the bundle helpers. Imports only models, errors and config."""
