"""``nodechat bench``: a load generator that measures a running deployment (or its own
``serve``), and the local provisioning of its accounts."""
