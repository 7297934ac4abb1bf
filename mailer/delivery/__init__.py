"""Everything that talks SMTP."""
