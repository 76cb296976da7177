"""Server-rendered monitoring pages (Jinja2, SVG charts drawn on the server, no scripts)."""
