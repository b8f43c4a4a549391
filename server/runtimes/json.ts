// Lenient readers for a runtime's JSON: a field that is missing or of another type reads as absent,
// since runtimes differ in what they fill in, and one odd container must not hide the others.
import { isObject } from "../../shared/validate.ts";

export type Json = Record<string, unknown>;

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const objectAt = (o: unknown, key: string): Json | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return isObject(v) ? v : undefined;
};

export const stringAt = (o: unknown, key: string): string | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return typeof v === "string" ? v : undefined;
};

export const numberAt = (o: unknown, key: string): number | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
};

export const arrayAt = (o: unknown, key: string): unknown[] => {
  const v = isObject(o) ? o[key] : undefined;
  return Array.isArray(v) ? v : [];
};

export const booleanAt = (o: unknown, key: string): boolean => (isObject(o) ? o[key] === true : false);

/** The Kubernetes pod a container belongs to, from the labels kubelet sets on every container. */
export function podOfLabels(labels: Json | undefined): { namespace: string; name: string } | undefined {
  const name = stringAt(labels, "io.kubernetes.pod.name");
  const namespace = stringAt(labels, "io.kubernetes.pod.namespace");
  return name !== undefined && namespace !== undefined ? { namespace, name } : undefined;
}
