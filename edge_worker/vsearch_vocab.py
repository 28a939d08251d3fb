"""Vehicle vocabulary the shared query parser recognises in free text.

PROVISIONAL hand-written sample; `vsearch catalog` regenerates this file from the catalog packages.
Slugs are lowercase ASCII with '-' for any run of other characters ("Mercedes-Benz" -> "mercedes-benz",
"F-150" -> "f-150"). Standard library only: the Worker imports this file too.
"""

MAKE_NAMES: dict[str, str] = {
    "ford": "Ford",
    "honda": "Honda",
    "mercedes-benz": "Mercedes-Benz",
    "tesla": "Tesla",
    "toyota": "Toyota",
}

# make slug -> model slug -> display name
MODEL_NAMES: dict[str, dict[str, str]] = {
    "ford": {"escape": "Escape", "f-150": "F-150", "mustang": "Mustang"},
    "honda": {"accord": "Accord", "civic": "Civic", "cr-v": "CR-V"},
    "mercedes-benz": {"c-class": "C-Class", "gle": "GLE"},
    "tesla": {"model-3": "Model 3", "model-y": "Model Y"},
    "toyota": {"camry": "Camry", "rav4": "RAV4", "tacoma": "Tacoma"},
}
