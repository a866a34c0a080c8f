"""Architectures. Importing a family file registers its ``@register_model`` entrypoints:
tsn (tsn_r50, tsn_r101, tsn_r50_flow), tsm (tsm_r50, tsm_r101, tsm_r50_nl_*), tsm_mobile
(tsm_mobilenetv2, tsm_mobileone_s4), tpn (tpn_slowonly_r50, tpn_tsm_r50), timm_temporal
(tsm_timm, tsn_timm and tsm_/tsn_<timm name>), tsn_3rdparty (TSN on MMAction2 1.x's other backbones)."""
from . import timm_temporal, tpn, tsm, tsm_mobile, tsn, tsn_3rdparty  # noqa: F401
from .base import VideoRecognizer  # noqa: F401
