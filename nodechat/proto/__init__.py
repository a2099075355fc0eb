"""Generated protobuf code (scripts/gen_protos.py); do not edit."""
