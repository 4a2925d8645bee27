"""Protobuf modules generated from proto/lp_rpc.proto by `make proto`; never edited by hand."""
