"""Health audits: checks registered in one place, facts gathered in one script per host, findings in words."""
