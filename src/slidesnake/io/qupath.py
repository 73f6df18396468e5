"""The QuPath project contract: a folder QuPath opens with File > Open project.

Written the way QuPath's own DefaultProject writes it (qupath-core, qupath.lib.projects.DefaultProject
`writeProject` / `writePathClasses`; its reader `loadProject` needs createTimestamp and modifyTimestamp and, for a
project without a version, lastID):

- `project.qpproj`: JSON with `version`, `createTimestamp` and `modifyTimestamp` (ms since the epoch), `uri` (the
  project file's file: URI), `lastID` (the largest entryID) and `images`, one entry per image: `serverBuilder`
  (`builderType` "uri", `providerClassName` the image server QuPath opens the file with, `uri` the image's absolute
  file: URI, `args`), `entryID`, `randomizedName` (a UUID), `imageName` and `metadata` (string -> string).
- `classifiers/classes.json`: `{"pathClasses": [{"name", "color"}]}`, the colour packed as QuPath's
  ColorTools.packRGB (0xFFRRGGBB as a signed 32-bit integer).
- `data/<entryID>/`: the entry's folder; QuPath writes its data.qpdata there on save. `server.json` (the entry's
  server builder, as QuPath stores it) is written here too.

Besides QuPath's own files the review project holds `layers/<imageName>/<layer>.geojson` (QuPath GeoJSON feature
collections, level-0 pixels, imported by File > Import objects or the project script `scripts/<IMPORT_SCRIPT>`).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import InputFileError

PROJECT_FILE = "project.qpproj"
CLASSES_FILE = "classifiers/classes.json"
DATA_DIR = "data"
SERVER_FILE = "server.json"
LAYER_DIR = "layers"
SCRIPT_DIR = "scripts"  # QuPath lists a project's scripts/ under Automate > Project scripts
IMPORT_SCRIPT = "import_review_layers.groovy"
QUPATH_VERSION = "0.5.1"  # the QuPath release whose project format this follows
URI_BUILDER = "uri"  # QuPath's builderType of an image opened from a URI (ImageServers' DefaultImageServerBuilder)
OPENSLIDE = "qupath.lib.images.servers.openslide.OpenslideServerBuilder"
BIOFORMATS = "qupath.lib.images.servers.bioformats.BioFormatsServerBuilder"
# formats QuPath opens with OpenSlide (the others, e.g. OME-TIFF, CZI, VSI, go to Bio-Formats)
OPENSLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide", ".tif", ".tiff")
UUID_NAMESPACE = uuid.UUID("5f0c7e52-4a39-4a8e-9d1c-7a7c7b3f2e10")  # randomizedName from the image name, stable
PROJECT_KEYS = ("version", "createTimestamp", "modifyTimestamp", "uri", "lastID", "images")
ENTRY_KEYS = ("serverBuilder", "entryID", "randomizedName", "imageName", "metadata")
BUILDER_KEYS = ("builderType", "providerClassName", "uri", "args")


def pack_rgb(colour: tuple[int, int, int]) -> int:
    """QuPath's packed colour (ColorTools.packRGB: opaque ARGB), as the signed int its JSON holds."""
    r, g, b = (int(c) & 0xFF for c in colour)
    packed = (0xFF << 24) | (r << 16) | (g << 8) | b
    return packed - (1 << 32) if packed >= 1 << 31 else packed


def unpack_rgb(packed: int) -> tuple[int, int, int]:
    packed &= 0xFFFFFFFF
    return (packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF


def provider_class(image: Path) -> str:
    """The image server QuPath opens a slide file with: OpenSlide for the formats it reads, else Bio-Formats."""
    name = image.name.lower()
    if name.endswith((".ome.tif", ".ome.tiff")) or not name.endswith(OPENSLIDE_SUFFIXES):
        return BIOFORMATS
    return OPENSLIDE


def server_builder(image: Path) -> dict:
    return {"builderType": URI_BUILDER, "providerClassName": provider_class(image), "uri": image.as_uri(), "args": []}


def image_entry(entry_id: int, name: str, image: Path, metadata: dict[str, str]) -> dict:
    """One entry of `images`: an absolute image file, its name in the project and its metadata (all strings)."""
    return {
        "serverBuilder": server_builder(Path(image).resolve()),
        "entryID": entry_id,
        "randomizedName": str(uuid.uuid5(UUID_NAMESPACE, name)),
        "imageName": name,
        "metadata": {str(k): str(v) for k, v in metadata.items()},
    }


def write_project(folder: Path, entries: list[dict], classes: dict[str, tuple[int, int, int]], timestamp_ms: int):
    """project.qpproj, classifiers/classes.json and each entry's data/<entryID>/server.json in `folder`."""
    folder = Path(folder).resolve()
    for entry in entries:
        with atomic_output(entry_folder(folder, entry) / SERVER_FILE) as tmp:
            tmp.write_text(json.dumps(entry["serverBuilder"], indent=2))
    path_classes = [{"name": name, "color": pack_rgb(colour)} for name, colour in classes.items()]
    with atomic_output(folder / CLASSES_FILE) as tmp:
        tmp.write_text(json.dumps({"pathClasses": path_classes}, indent=2))
    project = {
        "version": QUPATH_VERSION,
        "createTimestamp": timestamp_ms,
        "modifyTimestamp": timestamp_ms,
        "uri": (folder / PROJECT_FILE).as_uri(),
        "lastID": max((e["entryID"] for e in entries), default=0),
        "images": entries,
    }
    with atomic_output(folder / PROJECT_FILE) as tmp:
        tmp.write_text(json.dumps(project, indent=2))


def entry_folder(folder: Path, entry: dict) -> Path:
    """data/<entryID>/ (QuPath's DefaultProjectImageEntry.getEntryPath)."""
    return Path(folder) / DATA_DIR / str(entry["entryID"])


def layer_file(folder: Path, image_name: str, layer: str) -> Path:
    return Path(folder) / LAYER_DIR / image_name / f"{layer}.geojson"


def read_project(folder: Path) -> dict:
    """The project file of a QuPath project folder, checked as QuPath's loader does (plus what a review needs:
    unique entry IDs at most lastID, absolute file: image URIs); an InputFileError names what is wrong."""
    path = Path(folder) / PROJECT_FILE
    try:
        project = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(path, f"is not a readable QuPath project ({error})") from error
    missing = [k for k in PROJECT_KEYS if k not in project]
    if missing:
        raise InputFileError(path, f"lacks the QuPath project keys {missing}")
    ids = []
    for index, entry in enumerate(project["images"]):
        lacking = [k for k in ENTRY_KEYS if k not in entry] + [
            f"serverBuilder.{k}" for k in BUILDER_KEYS if k not in entry.get("serverBuilder", {})
        ]
        if lacking:
            raise InputFileError(path, f"image {index} lacks {lacking}")
        if not str(entry["serverBuilder"]["uri"]).startswith("file:/"):
            raise InputFileError(path, f"image {entry['imageName']}: its URI is not an absolute file: URI")
        ids.append(int(entry["entryID"]))
    if len(set(ids)) != len(ids) or (ids and max(ids) > int(project["lastID"])):
        raise InputFileError(path, f"entry IDs {ids} are not unique or exceed lastID {project['lastID']}")
    return project


def read_classes(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Class name -> colour of a project's classifiers/classes.json."""
    path = Path(folder) / CLASSES_FILE
    classes = json.loads(path.read_text()).get("pathClasses")
    if not isinstance(classes, list):
        raise InputFileError(path, "has no pathClasses list")
    return {c["name"]: unpack_rgb(int(c["color"])) for c in classes}


IMPORT_SCRIPT_TEXT = (
    """// slidesnake review: import the open image's review layers (layers/<image name>/*.geojson).
// Run it from Automate > Project scripts, for one image or with "Run for project".
def folder = new File(buildFilePath(PROJECT_BASE_DIR, '%s', getProjectEntry().getImageName()))
def files = folder.listFiles()?.findAll { it.name.endsWith('.geojson') }?.sort { it.name } ?: []
files.each { importObjectsFromFile(it.absolutePath) }
println "Imported ${files.size()} review layers from ${folder}"
"""
    % LAYER_DIR
)


def write_import_script(folder: Path) -> None:
    with atomic_output(Path(folder) / SCRIPT_DIR / IMPORT_SCRIPT) as tmp:
        tmp.write_text(IMPORT_SCRIPT_TEXT)
