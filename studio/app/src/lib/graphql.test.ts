import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dataOf, graphqlLiteral, GraphqlError, MAX_PAGE_SIZE, pageQuery } from "./graphql.ts";

describe("graphqlLiteral", () => {
  it("writes input objects with bare keys, quoted strings and bigints as strings", () => {
    assert.equal(
      graphqlLiteral({ id: 3n, uri_contains: 'a"b', curated: true, n: 2, skip: undefined, in: ["1", 2n] }),
      '{ id: "3", uri_contains: "a\\"b", curated: true, n: 2, in: ["1", "2"] }',
    );
  });
  it("refuses a key that would escape the object", () => {
    assert.throws(() => graphqlLiteral({ "a: 1 } evil": 1 }), GraphqlError);
  });
});

describe("pageQuery", () => {
  it("asks for one page with its cursors and total", () => {
    assert.equal(
      pageQuery({ field: "datanets", fields: "id", orderBy: "id", orderDirection: "desc", limit: 20, after: "c1" }),
      '{ datanets(orderBy: "id", orderDirection: "desc", limit: 20, after: "c1") { items { id } pageInfo { startCursor endCursor hasNextPage hasPreviousPage } totalCount } }',
    );
  });
  it("never asks for more than a page, or for less than one row", () => {
    assert.match(pageQuery({ field: "x", fields: "id", limit: 10_000 }), new RegExp(`limit: ${MAX_PAGE_SIZE}\\)`));
    assert.match(pageQuery({ field: "x", fields: "id", limit: 0 }), /limit: 1\)/);
  });
  it("reads after a cursor or before one, not both", () => {
    assert.throws(() => pageQuery({ field: "x", fields: "id", limit: 1, after: "a", before: "b" }), GraphqlError);
    assert.match(pageQuery({ field: "x", fields: "id", limit: 1, before: "b", after: null }), /before: "b"/);
  });
});

describe("dataOf", () => {
  it("returns the data of an answer", () => assert.deepEqual(dataOf(200, { data: { a: 1 } }), { a: 1 }));
  it("throws the first GraphQL error, or the status of an answer without data", () => {
    assert.throws(() => dataOf(400, { errors: [{ message: "bad field" }] }), /indexer: bad field/);
    assert.throws(() => dataOf(502, null), /indexer answered 502 without data/);
  });
});
