const { pluralize, truncate } = require('../format');

describe('pluralize', () => {
  test('uses the singular for one', () => {
    expect(pluralize(1, 'item')).toBe('1 item');
  });

  test('adds an s otherwise', () => {
    expect(pluralize(3, 'item')).toBe('3 items');
  });
});

describe('truncate', () => {
  test('keeps short text', () => {
    expect(truncate('abc', 10)).toBe('abc');
  });
});
