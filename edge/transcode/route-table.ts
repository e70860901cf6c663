/**
 * The REST routes of a set of services, read from their `google.api.http` options (and
 * `additional_bindings`) at start, never written by hand. Matching a request gives the
 * route and its path variables, or a 404 (no template matches the path) or a 405 (a
 * template matches but not for this HTTP method, with the methods that would).
 * Two bindings that match exactly the same requests are rejected when the table is built.
 */
import { getOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "#gen/google/api/annotations_pb.ts";
import type { HttpRule } from "#gen/google/api/http_pb.ts";
import { matchTemplate, parseTemplate, shapeKey, specificity, splitOnce, type PathTemplate } from "./path-template.ts";

export interface HttpRoute {
  readonly method: DescMethod;
  /** Upper-case HTTP method. */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** "" (no body), "*" (the whole request), or a top-level field name. */
  readonly body: string;
  /** "" (the whole response) or a top-level field name. */
  readonly responseBody: string;
  /** 0 for the method's `google.api.http` rule, k for its k-th additional binding. */
  readonly binding: number;
}

export type RouteMatch =
  | { readonly kind: "match"; readonly route: HttpRoute; readonly vars: Map<string, string> }
  | { readonly kind: "method_not_allowed"; readonly allow: string[] }
  | { readonly kind: "not_found" };

function bindings(rule: HttpRule): HttpRule[] {
  return [rule, ...rule.additionalBindings];
}

function verbAndPath(rule: HttpRule): [string, string] | undefined {
  const p = rule.pattern;
  switch (p.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      return [p.case.toUpperCase(), p.value];
    case "custom":
      return [p.value.kind.toUpperCase(), p.value.path];
    default:
      return undefined;
  }
}

export class RouteTable {
  readonly routes: HttpRoute[] = [];
  private readonly bound = new Set<DescMethod>();

  /** Builds the table; throws on a bad template or two conflicting bindings. */
  constructor(services: readonly DescService[]) {
    const seen = new Map<string, HttpRoute>();
    for (const s of services) {
      for (const m of s.methods) {
        const rule = getOption(m, http);
        if (!rule || rule.pattern.case === undefined) continue;
        for (const [binding, b] of bindings(rule).entries()) {
          const vp = verbAndPath(b);
          if (!vp) continue;
          const route: HttpRoute = { method: m, httpMethod: vp[0], template: parseTemplate(vp[1]), body: b.body, responseBody: b.responseBody, binding };
          const key = `${route.httpMethod} ${shapeKey(route.template)}`;
          const clash = seen.get(key);
          if (clash) throw new Error(`${route.httpMethod} ${vp[1]} of ${m.parent.typeName}.${m.name} conflicts with ${clash.method.parent.typeName}.${clash.method.name}`);
          seen.set(key, route);
          this.routes.push(route);
          this.bound.add(m);
        }
      }
    }
    // Most specific first, so the first match wins.
    this.routes.sort((a, b) => {
      const sa = specificity(a.template);
      const sb = specificity(b.template);
      for (let i = 0; i < 3; i++) if (sa[i] !== sb[i]) return sb[i]! - sa[i]!;
      return 0;
    });
  }

  /** Whether a method has at least one REST binding. */
  hasBinding(method: DescMethod): boolean {
    return this.bound.has(method);
  }

  /** Finds the route for an HTTP method and path (HEAD is served as GET). */
  match(httpMethod: string, path: string): RouteMatch {
    const want = httpMethod === "HEAD" ? "GET" : httpMethod;
    const allow = new Set<string>();
    let verbMatched = false;
    const split = splitOnce(path); // not once per template
    for (const route of this.routes) {
      // Once a template with a custom verb matched, a verb-less template must not take the
      // path by swallowing ":verb" into a variable (it would turn a 405 into a bad id).
      if (verbMatched && route.template.verb === undefined) continue;
      const vars = matchTemplate(route.template, path, split);
      if (!vars) continue;
      if (route.template.verb !== undefined) verbMatched = true;
      if (route.httpMethod === want) return { kind: "match", route, vars };
      allow.add(route.httpMethod);
    }
    return allow.size ? { kind: "method_not_allowed", allow: [...allow].sort() } : { kind: "not_found" };
  }
}
