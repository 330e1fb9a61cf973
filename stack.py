"""Print the maintenance endpoint's CloudFormation template:

    python stack.py > template.json

The template itself is built in scripts/lib/template.py (it ships with the installed
`maintenance-endpoint` command, which prints the same with `maintenance-endpoint template`).
"""

from scripts.template.build import build_template, main  # noqa: F401 - build_template for tests

if __name__ == "__main__":
    main()
