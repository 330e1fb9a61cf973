"""Print the maintenance endpoint's CloudFormation template:

    python stack.py > template.json

The template itself is built in scripts/template/ (it ships with the installed
`maintenance-endpoint` command, which prints the same with `maintenance-endpoint template`).
"""

import argparse
import sys

from scripts.template import build_template, parameters_help


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Print the maintenance endpoint's CloudFormation template as JSON. "
        "It takes no synthesis-time options: everything a deployment changes is a "
        "CloudFormation parameter.",
        epilog=parameters_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    sys.stdout.write(build_template().to_json() + "\n")


if __name__ == "__main__":
    main()
