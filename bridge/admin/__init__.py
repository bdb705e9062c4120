"""The staff dashboard at ``/admin``: accounts and sign-in, reports, transcripts,
operations, privacy and the audit log. ``bridge.admin.app.admin_app`` builds it."""
