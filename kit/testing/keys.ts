/**
 * Fresh mesh keys for this run (kit/mesh-keys.ts), for every mesh process and the edge,
 * put into process.env on import unless they are there already, so every process a test
 * or benchmark starts inherits them. The test process holds them all: it plays the
 * deployer, and signs as the edge (or as a service) when it calls a service directly.
 */
import { generateMeshKeys } from "../mesh-keys.ts";
import { mesh } from "../../mesh.config.ts";

Object.assign(process.env, generateMeshKeys([...mesh.map((e) => e.name), "edge", "operator"], process.env));
