"""Loading and validating the inventory and the playbooks, with file:line:col for every problem."""
