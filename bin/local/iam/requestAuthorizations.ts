/**
 * What IAM authorizes for one SDK request: each action on each resource, with the request's
 * condition keys. AWS evaluates some requests as several authorizations (a CopyObject reads
 * the source and writes the target; a transaction authorizes each item on its own table).
 */
export interface Authorization {
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | string[]>>;
}

/** The key attributes of a table and of each of its indexes, so a request's leading keys are known. */
export interface TableKeys {
  readonly partitionKey: string;
  readonly indexes: Readonly<Record<string, string>>;
}

export interface RequestScope {
  readonly region: string;
  readonly account: string;
  /** By physical table name. */
  readonly tables: ReadonlyMap<string, TableKeys>;
}

/** The SDK gave the local runtime a request it does not know how to authorize. */
export class UnmappedRequestError extends Error {
  readonly code = 'UNMAPPED_REQUEST';
  constructor(readonly service: string, readonly command: string) {
    super(`the local runtime cannot authorize ${service} ${command}: map it to its IAM action and resource in bin/local/iam/requestAuthorizations.ts`);
    this.name = 'UnmappedRequestError';
  }
}

type Input = Record<string, unknown>;
type AttributeValue = { S?: string; N?: string; B?: unknown };

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

// ---------------------------------------------------------------- DynamoDB

function tableArn(table: string, scope: RequestScope): string {
  return table.startsWith('arn:') ? table : `arn:aws:dynamodb:${scope.region}:${scope.account}:table/${table}`;
}

function tableName(table: string): string {
  return table.startsWith('arn:') ? table.slice(table.indexOf(':table/') + ':table/'.length).split('/')[0]! : table;
}

function scalar(value: AttributeValue | undefined): string | undefined {
  return value?.S ?? value?.N;
}

/** Top-level attribute names an expression refers to (`#name` placeholders resolved). */
function expressionAttributes(expression: unknown, names: unknown): string[] {
  if (typeof expression !== 'string') return [];
  const placeholders = (names ?? {}) as Record<string, string>;
  const found = new Set<string>();
  // Drop the values (:v) and the functions and keywords; what stays first in a path is an attribute.
  for (const match of expression.matchAll(/(?<![:\w#.[])(#?[A-Za-z_][\w]*)(?![\w(])/g)) {
    const token = match[1]!;
    if (/^(SET|REMOVE|ADD|DELETE|AND|OR|NOT|BETWEEN|IN|if_not_exists|list_append|attribute_exists|attribute_not_exists|attribute_type|begins_with|contains|size)$/i.test(token)) continue;
    found.add(token.startsWith('#') ? (placeholders[token] ?? token) : token);
  }
  return [...found];
}

function itemContext(table: string, key: Input | undefined, extra: { attributes?: string[]; returnValues?: unknown }, scope: RequestScope): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = {};
  const keys = scope.tables.get(tableName(table));
  const leading = keys === undefined ? undefined : scalar(key?.[keys.partitionKey] as AttributeValue | undefined);
  if (leading !== undefined) context['dynamodb:LeadingKeys'] = [leading];
  if (extra.attributes !== undefined) context['dynamodb:Attributes'] = [...new Set([...Object.keys(key ?? {}), ...extra.attributes])];
  if (typeof extra.returnValues === 'string') context['dynamodb:ReturnValues'] = extra.returnValues;
  return context;
}

function itemAuthorization(action: string, input: Input, scope: RequestScope): Authorization {
  const table = String(input.TableName);
  const names = input.ExpressionAttributeNames;
  const attributes =
    action === 'dynamodb:UpdateItem'
      ? expressionAttributes(input.UpdateExpression, names)
      : action === 'dynamodb:PutItem'
        ? Object.keys(input.Item ?? {})
        : input.ProjectionExpression !== undefined
          ? expressionAttributes(input.ProjectionExpression, names)
          : undefined;
  const key = (action === 'dynamodb:PutItem' ? input.Item : input.Key) as Input | undefined;
  return {
    action,
    resource: tableArn(table, scope),
    context: itemContext(table, key, { ...(attributes === undefined ? {} : { attributes }), returnValues: input.ReturnValues }, scope),
  };
}

function queryAuthorization(input: Input, scope: RequestScope): Authorization {
  const table = String(input.TableName);
  const index = text(input.IndexName);
  const keys = scope.tables.get(tableName(table));
  const partitionKey = index === undefined ? keys?.partitionKey : keys?.indexes[index];
  const context: Record<string, string | string[]> = {};
  if (partitionKey !== undefined && typeof input.KeyConditionExpression === 'string') {
    const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = (input.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>;
    for (const match of input.KeyConditionExpression.matchAll(/(#?[\w]+)\s*=\s*(:[\w]+)/g)) {
      const name = match[1]!.startsWith('#') ? names[match[1]!] : match[1];
      const value = scalar(values[match[2]!]);
      if (name === partitionKey && value !== undefined) context['dynamodb:LeadingKeys'] = [value];
    }
  }
  if (typeof input.Select === 'string') context['dynamodb:Select'] = input.Select;
  return { action: 'dynamodb:Query', resource: `${tableArn(table, scope)}${index === undefined ? '' : `/index/${index}`}`, context };
}

function dynamodb(command: string, input: Input, scope: RequestScope): Authorization[] {
  switch (command) {
    case 'GetItem':
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return [itemAuthorization(`dynamodb:${command}`, input, scope)];
    case 'Query':
      return [queryAuthorization(input, scope)];
    case 'Scan': {
      const index = text(input.IndexName);
      return [{ action: 'dynamodb:Scan', resource: `${tableArn(String(input.TableName), scope)}${index === undefined ? '' : `/index/${index}`}`, context: {} }];
    }
    case 'DescribeTable':
      return [{ action: 'dynamodb:DescribeTable', resource: tableArn(String(input.TableName), scope), context: {} }];
    case 'TransactWriteItems':
      return ((input.TransactItems ?? []) as Input[]).map((item) => {
        const [kind, request] = Object.entries(item)[0] as [string, Input];
        const action = { Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem', ConditionCheck: 'dynamodb:ConditionCheckItem' }[kind];
        if (action === undefined) throw new UnmappedRequestError('DynamoDB', `TransactWriteItems ${kind}`);
        return itemAuthorization(action, request, scope);
      });
    case 'TransactGetItems':
      return ((input.TransactItems ?? []) as { Get: Input }[]).map((item) => itemAuthorization('dynamodb:GetItem', item.Get, scope));
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys((input.RequestItems ?? {}) as Input).map((table) => ({ action: `dynamodb:${command}`, resource: tableArn(table, scope), context: {} }));
    default:
      throw new UnmappedRequestError('DynamoDB', command);
  }
}

// ---------------------------------------------------------------- S3

const objectArn = (bucket: unknown, key: unknown): string => `arn:aws:s3:::${String(bucket)}/${String(key)}`;

function s3(command: string, input: Input): Authorization[] {
  const object = objectArn(input.Bucket, input.Key);
  const versioned = (action: string): string => (input.VersionId === undefined ? action : `${action}Version`);
  switch (command) {
    case 'GetObject':
    case 'HeadObject':
      return [{ action: versioned('s3:GetObject'), resource: object, context: {} }];
    case 'PutObject':
    case 'CreateMultipartUpload':
    case 'UploadPart':
    case 'CompleteMultipartUpload': {
      const writes = [{ action: 's3:PutObject', resource: object, context: {} }];
      if (input.ObjectLockMode !== undefined || input.ObjectLockRetainUntilDate !== undefined) writes.push({ action: 's3:PutObjectRetention', resource: object, context: {} });
      if (input.ObjectLockLegalHoldStatus !== undefined) writes.push({ action: 's3:PutObjectLegalHold', resource: object, context: {} });
      return writes;
    }
    case 'AbortMultipartUpload':
      return [{ action: 's3:AbortMultipartUpload', resource: object, context: {} }];
    case 'CopyObject':
    case 'UploadPartCopy': {
      const [source = '', query = ''] = decodeURIComponent(String(input.CopySource)).replace(/^\//, '').split('?');
      const sourceVersioned = /(^|&)versionId=/.test(query);
      return [
        { action: sourceVersioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: `arn:aws:s3:::${source}`, context: {} },
        { action: 's3:PutObject', resource: object, context: {} },
      ];
    }
    case 'DeleteObject':
      return [{ action: versioned('s3:DeleteObject'), resource: object, context: {} }];
    case 'DeleteObjects':
      // S3 authorizes each object of a multi-object delete as its own DeleteObject.
      return (((input.Delete as Input | undefined)?.Objects ?? []) as { Key: string; VersionId?: string }[]).map((entry) => ({
        action: entry.VersionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion',
        resource: objectArn(input.Bucket, entry.Key),
        context: {},
      }));
    case 'ListObjectsV2':
    case 'ListObjects':
    case 'HeadBucket': {
      const context: Record<string, string> = {};
      if (typeof input.Prefix === 'string') context['s3:prefix'] = input.Prefix;
      if (typeof input.Delimiter === 'string') context['s3:delimiter'] = input.Delimiter;
      return [{ action: 's3:ListBucket', resource: `arn:aws:s3:::${String(input.Bucket)}`, context }];
    }
    case 'ListObjectVersions':
      return [{ action: 's3:ListBucketVersions', resource: `arn:aws:s3:::${String(input.Bucket)}`, context: typeof input.Prefix === 'string' ? { 's3:prefix': input.Prefix } : {} }];
    case 'GetObjectRetention':
    case 'PutObjectRetention':
    case 'GetObjectLegalHold':
    case 'PutObjectLegalHold':
      return [{ action: `s3:${command}`, resource: object, context: {} }];
    default:
      throw new UnmappedRequestError('S3', command);
  }
}

// ---------------------------------------------------------------- SQS, SNS, Secrets Manager, CloudFormation, Lambda

function queueArn(queueUrl: unknown, scope: RequestScope): string {
  // https://sqs.<region>.amazonaws.com/<account>/<name>, or an emulator's http://host:port/<account>/<name>
  const [account, name] = new URL(String(queueUrl)).pathname.split('/').filter(Boolean).slice(-2);
  return `arn:aws:sqs:${scope.region}:${account ?? scope.account}:${name ?? ''}`;
}

function sqs(command: string, input: Input, scope: RequestScope): Authorization[] {
  const action = {
    SendMessage: 'sqs:SendMessage',
    SendMessageBatch: 'sqs:SendMessage',
    ReceiveMessage: 'sqs:ReceiveMessage',
    DeleteMessage: 'sqs:DeleteMessage',
    DeleteMessageBatch: 'sqs:DeleteMessage',
    ChangeMessageVisibility: 'sqs:ChangeMessageVisibility',
    ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
    GetQueueAttributes: 'sqs:GetQueueAttributes',
    SetQueueAttributes: 'sqs:SetQueueAttributes',
    PurgeQueue: 'sqs:PurgeQueue',
  }[command];
  if (command === 'GetQueueUrl') {
    return [{ action: 'sqs:GetQueueUrl', resource: `arn:aws:sqs:${scope.region}:${text(input.QueueOwnerAWSAccountId) ?? scope.account}:${String(input.QueueName)}`, context: {} }];
  }
  if (action === undefined) throw new UnmappedRequestError('SQS', command);
  return [{ action, resource: queueArn(input.QueueUrl, scope), context: {} }];
}

function sns(command: string, input: Input): Authorization[] {
  if (command !== 'Publish' && command !== 'PublishBatch') throw new UnmappedRequestError('SNS', command);
  return [{ action: 'sns:Publish', resource: String(input.TopicArn ?? input.TargetArn), context: {} }];
}

/**
 * A secret's ARN ends in a dash and six random characters, which policies match with `-??????`;
 * a request by name stands for the secret of that name, so it gets a suffix of that shape.
 */
function secretArn(secretId: unknown, scope: RequestScope): string {
  const id = String(secretId);
  return id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${scope.region}:${scope.account}:secret:${id}-LOCAL0`;
}

function secretsManager(command: string, input: Input, scope: RequestScope): Authorization[] {
  if (!['GetSecretValue', 'DescribeSecret'].includes(command)) throw new UnmappedRequestError('Secrets Manager', command);
  return [{ action: `secretsmanager:${command}`, resource: secretArn(input.SecretId, scope), context: {} }];
}

function cloudFormation(command: string, input: Input, scope: RequestScope): Authorization[] {
  if (command !== 'DescribeStacks') throw new UnmappedRequestError('CloudFormation', command);
  const stack = text(input.StackName);
  const resource = stack === undefined ? '*' : stack.startsWith('arn:') ? stack : `arn:aws:cloudformation:${scope.region}:${scope.account}:stack/${stack}/local`;
  return [{ action: 'cloudformation:DescribeStacks', resource, context: {} }];
}

function lambda(command: string, input: Input, scope: RequestScope): Authorization[] {
  const name = String(input.FunctionName);
  const resource = name.startsWith('arn:') ? name : `arn:aws:lambda:${scope.region}:${scope.account}:function:${name}`;
  switch (command) {
    case 'Invoke':
    case 'InvokeWithResponseStream':
      return [{ action: 'lambda:InvokeFunction', resource, context: {} }];
    default:
      throw new UnmappedRequestError('Lambda', command);
  }
}

/**
 * The authorizations IAM evaluates for one request of an SDK client (`DynamoDBClient`,
 * `UpdateItemCommand`, the request's input as sent). A request this does not know throws
 * UnmappedRequestError: a function's call is never let through unchecked.
 */
export function requestAuthorizations(clientName: string, commandName: string, input: Input, scope: RequestScope): Authorization[] {
  const command = commandName.replace(/Command$/, '');
  switch (clientName) {
    case 'DynamoDBClient':
      return dynamodb(command, input, scope);
    case 'S3Client':
      return s3(command, input);
    case 'SQSClient':
      return sqs(command, input, scope);
    case 'SNSClient':
      return sns(command, input);
    case 'SecretsManagerClient':
      return secretsManager(command, input, scope);
    case 'CloudFormationClient':
      return cloudFormation(command, input, scope);
    case 'LambdaClient':
      return lambda(command, input, scope);
    case 'STSClient':
      // GetCallerIdentity needs no permission; nothing else of STS is used.
      if (command === 'GetCallerIdentity') return [];
      throw new UnmappedRequestError('STS', command);
    default:
      throw new UnmappedRequestError(clientName, command);
  }
}
