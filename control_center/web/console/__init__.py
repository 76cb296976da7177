"""The operator's console (``/console``): sign-in, bulletins and approval, scheduling,
emergency broadcast, devices and the audit log. Vietnamese first, English beside it."""
