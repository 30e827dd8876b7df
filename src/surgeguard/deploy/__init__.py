"""Deploying a routing: SR-TE policies (:mod:`~surgeguard.deploy.sr`) and their device formats
(:mod:`~surgeguard.deploy.formats`: JSON after RFC 9256, Cisco IOS-XR, FRR ``pathd``, pola PCE YAML)."""

from .sr import (DEFAULT_COLOR, IgpPaths, Segment, SegmentList, SidPlan, SrExport, SrPolicy, compress_path,
                 device_slots, export_sr, few_policies, quantise, routing_from_policies)
from .formats import FORMATS, check_frr_config, read_json_policies, render, write_export
from .metrics import MetricChange, MetricResult, metric_config, optimise_metrics, select_matrices

__all__ = ["DEFAULT_COLOR", "IgpPaths", "Segment", "SegmentList", "SidPlan", "SrExport", "SrPolicy", "compress_path",
           "device_slots", "export_sr", "few_policies", "quantise", "routing_from_policies", "FORMATS",
           "check_frr_config", "read_json_policies", "render", "write_export", "MetricChange", "MetricResult", "metric_config",
           "optimise_metrics", "select_matrices"]
