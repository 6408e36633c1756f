"""Entry point the Pulumi CLI runs for the component package (see PulumiPlugin.yaml).

All the work is in `edgekit_iac.provider`, installed from this repository by
requirements.txt; this file only starts it.
"""

from edgekit_iac.provider import main

if __name__ == "__main__":
    main()
