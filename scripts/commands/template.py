"""`maintenance-endpoint template`: print the CloudFormation template (as `python stack.py`)."""

from __future__ import annotations

import argparse
import sys

from ..template import build_template, parameters_help


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = parameters_help()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(build_template().to_json() + "\n")
    return 0
