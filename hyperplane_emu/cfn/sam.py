"""SAM templates (`Transform: AWS::Serverless-2016-10-31`) -> CloudFormation, offline.

The transform is AWS's own (`aws-sam-translator`, the library behind the SAM CLI
and the CloudFormation transform). It needs no network: managed policy names are
only looked up for Function policies, and the loader here answers with none
(Lambda is not emulated anyway). Pseudo parameters are passed in so that the
translator never asks boto3 for a region.
"""

from __future__ import annotations

import copy
import logging
from typing import Any


class SamError(Exception):
    pass


class _NoManagedPolicies:
    """What `ManagedPolicyLoader` would fetch from IAM: nothing, offline."""

    def load(self) -> dict[str, str]:
        return {}


def transform(body: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    try:
        import boto3.session
        from samtranslator.model.exceptions import InvalidDocumentException
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.translator import Translator
        from samtranslator.utils.py27hash_fix import (
            to_py27_compatible_template,
            undo_mark_unicode_str_in_template,
        )
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise SamError(f"SAM templates need aws-sam-translator: {e}") from None
    values: dict[str, Any] = {
        "AWS::Region": parameters.get("AWS::Region", "us-east-1"),
        "AWS::AccountId": parameters.get("AWS::AccountId", "111122223333"),
        "AWS::Partition": "aws",
        "AWS::StackName": parameters.get("AWS::StackName", "stack"),
        "AWS::URLSuffix": "amazonaws.com",
    }
    values.update({k: v for k, v in parameters.items() if not k.startswith("AWS::")})
    sam_log = logging.getLogger("samtranslator")
    level = sam_log.level
    # Its info lines (feature toggles) are not the user's business.
    sam_log.setLevel(logging.ERROR)
    try:
        fragment = copy.deepcopy(body)
        to_py27_compatible_template(fragment, values)
        # A session built with a region answers region questions locally (no network,
        # no credentials): the translator otherwise asks the environment for one.
        session = boto3.session.Session(region_name=values["AWS::Region"])
        translator = Translator(None, Parser(), boto_session=session)
        out = undo_mark_unicode_str_in_template(
            translator.translate(
                fragment,
                parameter_values=values,
                get_managed_policy_map=_NoManagedPolicies().load,
            )
        )
    except InvalidDocumentException as e:
        causes = "; ".join(str(c.message) for c in e.causes) or str(e)
        raise SamError(f"SAM transform: {causes}") from None
    except Exception as e:  # the translator raises many types for bad input
        raise SamError(f"SAM transform failed: {type(e).__name__}: {e}") from None
    finally:
        sam_log.setLevel(level)
    if not isinstance(out, dict):
        raise SamError("SAM transform returned no template")
    return out
