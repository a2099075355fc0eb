"""nodechat.v1 messages and services, generated from proto/nodechat/v1."""
