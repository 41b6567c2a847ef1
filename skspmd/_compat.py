"""The one place where skspmd imports private scikit-learn names.

Tested against the pinned range in ``pyproject.toml`` (scikit-learn >=1.6,<1.10).
"""

from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["Interval", "StrOptions"]
