"""The database floor: connections, migrations and the local PostgreSQL harness."""
