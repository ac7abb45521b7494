"""The spine shared by every capability: exit statuses, errors, results, context, registries."""
