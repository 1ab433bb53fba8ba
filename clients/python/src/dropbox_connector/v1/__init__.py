"""Generated from proto/dropbox_connector/v1 by clients/python/generate.sh. DO NOT EDIT."""
