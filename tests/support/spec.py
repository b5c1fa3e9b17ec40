"""Facts the independent oracles take from the spec itself, never from the code or data/ (so that
a wrong data/offices.csv or SQL macro cannot agree with itself).

rules.md §3: the 29 responsible offices — the region's social insurance administration, its five
cities, 22 counties and districts, and Ningdong (640900, the pipeline's default for its setting).
"""

OFFICES_29 = (
    "640000",
    "640100",
    "640200",
    "640300",
    "640400",
    "640500",
    "640104",
    "640105",
    "640106",
    "640121",
    "640122",
    "640181",
    "640202",
    "640205",
    "640221",
    "640302",
    "640303",
    "640323",
    "640324",
    "640381",
    "640402",
    "640422",
    "640423",
    "640424",
    "640425",
    "640502",
    "640521",
    "640522",
    "640900",
)
